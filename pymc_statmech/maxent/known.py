def recognise(problem):
    return None
