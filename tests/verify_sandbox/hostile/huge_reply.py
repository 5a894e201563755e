# An honest but oversized answer: 3 MB of string, over the judge's reply budget.
def f():
    return "x" * (3 << 20)
