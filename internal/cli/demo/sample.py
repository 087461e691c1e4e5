"""pyattach's demo program: a small service that has been running a while.

Nothing in it knows about debuggers: `pyattach demo` starts it as an
ordinary process, then attaches to it by PID, stops at the line marked
BREAK:demo, shows the stack and locals, and detaches, leaving it running.
"""
import os
import time


def handle(order_id, items):
    total = sum(price * quantity for _, price, quantity in items)
    discount = 0.1 if total > 100 else 0.0
    due = round(total * (1 - discount), 2)  # BREAK:demo
    return due


def report(orders):
    path = os.environ.get("PYATTACH_DEMO_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % orders)
        os.rename(path + ".tmp", path)


def main():
    order_id = 0
    while True:
        order_id += 1
        items = [("widget", 9.99, order_id % 7 + 1), ("gadget", 24.5, order_id % 3)]
        handle(order_id, items)
        report(order_id)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
