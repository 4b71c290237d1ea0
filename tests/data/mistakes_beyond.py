"""Plausible mistakes in the exercises beyond the tutorial, 09 and 10: whole answer cells a learner writes.

Exercise 09's ``take_messages`` is written with the notebook's ``HEADER`` and
``MAX_MESSAGE``; exercise 10's ``EchoProtocol`` from the pieces below.  What
each check must show is ``words``, as in :mod:`data.mistakes`, which puts
these beside the others.
"""

TAKE_MESSAGES = {  # case: (the learner's answer cell, words)
    "never takes the message out: an endless loop": ("""\
def take_messages(data):
    messages = []
    while len(data.inb) >= 4:
        (length,) = HEADER.unpack_from(data.inb)
        if len(data.inb) < 4 + length:
            break
        messages.append(bytes(data.inb[4:4 + length]))
    return messages
""", ["did not return within", "del data.inb[:end]"]),
    "if instead of while": ("""\
def take_messages(data):
    messages = []
    if len(data.inb) >= 4:
        (length,) = HEADER.unpack_from(data.inb)
        if length > MAX_MESSAGE:
            raise ValueError('too long')
        if len(data.inb) >= 4 + length:
            messages.append(bytes(data.inb[4:4 + length]))
            del data.inb[:4 + length]
    return messages
""", ["five messages", "a `while` loop, not an `if`"]),
    "takes a message before it is complete": ("""\
def take_messages(data):
    messages = []
    while len(data.inb) >= 4:
        (length,) = HEADER.unpack_from(data.inb)
        if length > MAX_MESSAGE:
            raise ValueError('too long')
        messages.append(bytes(data.inb[4:4 + length]))
        del data.inb[:4 + length]
    return messages
""", ["6 of its 22 bytes", "expected []", "Return only complete messages"]),
    "forgets the return": ("""\
def take_messages(data):
    messages = []
    while len(data.inb) >= 4:
        (length,) = HEADER.unpack_from(data.inb)
        if len(data.inb) < 4 + length:
            break
        messages.append(bytes(data.inb[4:4 + length]))
        del data.inb[:4 + length]
""", ["returned None", "forget a `return`"]),
    "no limit on the length": ("""\
def take_messages(data):
    messages = []
    while len(data.inb) >= 4:
        (length,) = HEADER.unpack_from(data.inb)
        if len(data.inb) < 4 + length:
            break
        messages.append(bytes(data.inb[4:4 + length]))
        del data.inb[:4 + length]
    return messages
""", ["4,294,967,295 bytes", "should raise ValueError", "MAX_MESSAGE"]),
    "unpacks a header that is not all there": ("""\
def take_messages(data):
    messages = []
    while data.inb:
        (length,) = struct.unpack('!I', data.inb[:4])
        if length > MAX_MESSAGE:
            raise ValueError('too long')
        if len(data.inb) < 4 + length:
            break
        messages.append(bytes(data.inb[4:4 + length]))
        del data.inb[:4 + length]
    return messages
""", ["3 bytes of a header", "raised struct.error", "Traceback", "not an error"]),
    "reads the length little-endian": ("""\
def take_messages(data):
    messages = []
    while len(data.inb) >= 4:
        (length,) = struct.unpack('<I', data.inb[:4])
        if length > MAX_MESSAGE:
            raise ValueError('too long')
        if len(data.inb) < 4 + length:
            break
        messages.append(bytes(data.inb[4:4 + length]))
        del data.inb[:4 + length]
    return messages
""", ["raised ValueError", "big-endian"]),
    "keeps the header in the message": ("""\
def take_messages(data):
    messages = []
    while len(data.inb) >= 4:
        (length,) = HEADER.unpack_from(data.inb)
        if length > MAX_MESSAGE:
            raise ValueError('too long')
        if len(data.inb) < 4 + length:
            break
        messages.append(bytes(data.inb[:4 + length]))
        del data.inb[:4 + length]
    return messages
""", ["one whole message", "expected [b'Message 1 from client.']"]),
    "forgets to remove the header": ("""\
def take_messages(data):
    messages = []
    if len(data.inb) >= 4:
        (length,) = HEADER.unpack_from(data.inb)
        if length > MAX_MESSAGE:
            raise ValueError('too long')
        if len(data.inb) >= 4 + length:
            messages.append(bytes(data.inb[4:4 + length]))
            del data.inb[4:4 + length]
    return messages
""", ["left", "in `data.inb`", "header included"]),
    "returns a generator": ("""\
def take_messages(data):
    while len(data.inb) >= 4:
        (length,) = HEADER.unpack_from(data.inb)
        if len(data.inb) < 4 + length:
            break
        yield bytes(data.inb[4:4 + length])
        del data.inb[:4 + length]
""", ["returned a generator, not a list"]),
}

HEAD = """\
class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
"""
ECHO = """
    def data_received(self, data):
        self.transport.write(data)
"""
PAUSE = """
    def pause_writing(self):
        self.transport.pause_reading()
"""
RESUME = """
    def resume_writing(self):
        self.transport.resume_reading()
"""

ECHO_PROTOCOL = {  # case: (the learner's answer cell, words)
    "no backpressure (lesson 12's protocol)": (HEAD + ECHO, ["kept reading", "held up to", "pause_reading()"]),
    "pauses and never resumes": (HEAD + ECHO + PAUSE, ["only", "never read again", "resume_reading()"]),
    "does not echo": (HEAD + "\n    def data_received(self, data):\n        pass\n" + PAUSE + RESUME,
                      ["got nothing back", "self.transport.write(data)"]),
    "echoes twice": (HEAD + "\n    def data_received(self, data):\n        self.transport.write(data * 2)\n"
                     + PAUSE + RESUME, ["expected every byte, in order"]),
    "keeps the connection open after a half-close": (
        HEAD + ECHO + PAUSE + RESUME + "\n    def eof_received(self):\n        return True\n",
        ["shut down its sending side", "stayed open", "eof_received"]),
    "closes after every message": (
        HEAD + "\n    def data_received(self, data):\n        self.transport.write(data)\n"
               "        self.transport.close()\n" + PAUSE + RESUME, ["closed the connection", "eof_received"]),
    "an error in data_received": (
        HEAD + "\n    def data_received(self, data):\n        self.transport.write(data.upper() + 1)\n"
        + PAUSE + RESUME, ["raised TypeError", "data_received() call failed"]),
    "pause_writing calls a method that does not exist": (
        HEAD + ECHO + "\n    def pause_writing(self):\n        self.transport.pause()\n" + RESUME,
        ["raised AttributeError", "pause_writing"]),
    "a data_received that never returns": (
        HEAD + "\n    def data_received(self, data):\n        while True:\n            pass\n"
        + PAUSE + RESUME, ["did not answer within", "blocks or loops forever"]),
}
