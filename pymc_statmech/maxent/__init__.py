"""Maximum-entropy and minimum-relative-entropy priors, and concentration on the same dual."""
