# Sleeps at import until the wall-clock limit ends it (no CPU spent): one slow check among
# many, which must hold only its own worker.
import time

time.sleep(1000)
