"""Small helpers shared by tests in several folders (import from here, like shared_paths)."""
import threading

import numpy as np

from unitaf_blender.core.performance import EMOTIONS


def neutral():
    """An emotion timeline (times, vectors) that stays neutral."""
    return np.array([0.0]), np.zeros((1, 8))


def emotion(name, value=1.0):
    """An emotion timeline (times, vectors) holding one emotion from time 0."""
    v = np.zeros((1, 8))
    v[0, EMOTIONS.index(name)] = value
    return np.array([0.0]), v


def in_threads(work, n=2):
    """Run work(0) ... work(n - 1) on n threads at once and wait for all of them."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
