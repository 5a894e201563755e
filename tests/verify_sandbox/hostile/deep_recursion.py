# Recurses without end (the interpreter's recursion limit stops it).
def f(n=0):
    return f(n + 1) + 1
