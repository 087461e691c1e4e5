"""The impossible case: the only thread blocked inside C, holding the GIL.

The main thread calls read() on a FIFO through ctypes.PyDLL, which, unlike
ctypes.CDLL, keeps the GIL during the call: nothing else in the process can
run Python, and the thread does not return to the interpreter until a writer
sends a byte, which only the test does (after its attach has given up). Each
byte read counts as one round; at the line marked BREAK:stuck, rounds is the
number of bytes read so far.

The FIFO is named by MATRIX_FIFO. Progress: 1 before the first read, then 1
+ the number of bytes read, in the file named by PYATTACH_PROGRESS.
"""
import ctypes
import os


def report(done):
    path = os.environ.get("PYATTACH_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % done)
        os.replace(path + ".tmp", path)


def woken(rounds):
    return rounds  # BREAK:stuck


def main():
    # O_RDWR: opening does not wait for a writer, and read() never sees EOF.
    fd = os.open(os.environ["MATRIX_FIFO"], os.O_RDWR)
    libc = ctypes.PyDLL(None)
    libc.read.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)
    libc.read.restype = ctypes.c_ssize_t
    buf = ctypes.create_string_buffer(1)
    rounds = 0
    report(1)
    while True:
        if libc.read(fd, buf, 1) == 1:
            rounds += 1
            woken(rounds)
            report(1 + rounds)


if __name__ == "__main__":
    main()
