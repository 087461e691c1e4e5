"""Behaviour 6, an asyncio event loop.

The main thread runs an event loop with a TCP server on loopback and a
client coroutine that sends it a request every 20 ms; between events the
loop waits in epoll without the GIL. The server answers each request with a
new respond() coroutine, which awaits once before it builds the reply: at
the line marked BREAK:aio it is running on the main thread, inside the
event loop's current task, and reply == request.upper().

The breakpoint is in a coroutine started for each request, as a server's
handlers are. (debugpy 1.8 on CPython 3.12+ does not stop in a coroutine
that was already running when debugpy started, such as the connection's
handle() loop here: it watches PY_START but not PY_RESUME.)

Progress: the number of requests answered, in the file named by
PYATTACH_PROGRESS.
"""
import asyncio
import os


def report(done):
    path = os.environ.get("PYATTACH_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % done)
        os.replace(path + ".tmp", path)


async def respond(request):
    await asyncio.sleep(0)
    reply = request.upper()
    return reply  # BREAK:aio


async def handle(reader, writer):
    while True:
        request = await reader.readline()
        if not request:
            break
        writer.write(await respond(request))
        await writer.drain()
    writer.close()


async def client(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answered = 0
    while True:
        writer.write(b"ping %d\n" % answered)
        await writer.drain()
        await reader.readline()
        answered += 1
        report(answered)
        await asyncio.sleep(0.02)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await client(port)


if __name__ == "__main__":
    asyncio.run(main())
