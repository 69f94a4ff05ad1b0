"""The job queue's rows: one row per waiting job, a line per session, counting trees for
positions and the fair pick (``Store`` describes the layout and the invariants). Every
method takes the cache it works in and runs inside the caller's transaction.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

from appliance.errors import StoreError
from appliance.models import JSONDict
from appliance.store_disk import RowCache

# The counting trees' shape, bottom level first: 2**32 places, half of them for each end of
# the line, and places start from the middle again whenever the line is empty. Three rows
# per tree and operation; a bottom node is a 256-bit mask, a node above holds counts.
TREE_FANOUTS: tuple[int, ...] = (256, 256, 65536)




class CountTree:
    """Which places of ``[0, capacity())`` hold an entry, as a few rows.

    A level 1 node covers ``TREE_FANOUTS[0]`` places and is a bitmask of them (a JSON
    integer: one bit per place, as each place holds one job). A node above covers
    ``TREE_FANOUTS[level - 1]`` nodes of the level below and holds the count of entries
    under each non-empty one, ``{"offset": count}``: only as many entries as there are
    non-empty nodes below, so the top's wide fanout costs nothing (places in use are close
    together). A change, a count of the entries before a place, and the first place taken
    each read (and for a change, write) one node per level: ``len(TREE_FANOUTS)`` rows,
    whatever the number of entries.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def _key(self, level: int, index: int) -> str:
        return f"queue:tree:{self.name}:{level}:{index}"

    @staticmethod
    def capacity() -> int:
        return math.prod(TREE_FANOUTS)

    def _path(self, seq: int) -> Iterator[tuple[int, int, int]]:
        """(level, node index, offset of the child on the way to ``seq``), bottom up."""
        below = 1  # places under one child of a node at this level
        for level, fanout in enumerate(TREE_FANOUTS, start=1):
            yield level, seq // (below * fanout), (seq // below) % fanout
            below *= fanout

    def _out_of_step(self, seq: int) -> StoreError:
        return StoreError(f"the queue's {self.name} tree is out of step at place {seq}")

    def add(self, cache: RowCache, seq: int, delta: int) -> int:
        """Mark ``seq`` taken (``delta`` 1) or free (-1); returns the new number of entries."""
        total = 0
        for level, index, offset in self._path(seq):
            key = self._key(level, index)
            if level == 1:
                mask: int = cache.get(key) or 0
                if bool(mask >> offset & 1) == (delta > 0):
                    raise self._out_of_step(seq)
                mask ^= 1 << offset
                total = mask.bit_count()
                if mask:
                    cache.set(key, mask)
                else:
                    cache.delete(key)
                continue
            node: dict[str, int] = cache.get(key) or {}
            count = node.get(str(offset), 0) + delta
            if count < 0:
                raise self._out_of_step(seq)
            if count:
                node[str(offset)] = count
            else:
                node.pop(str(offset), None)
            total = sum(node.values())
            if node:
                cache.set(key, node)
            else:
                cache.delete(key)
        return total  # the root's

    def count_before(self, cache: RowCache, seq: int) -> int:
        before = 0
        for level, index, offset in self._path(seq):
            if level == 1:
                mask: int = cache.get(self._key(level, index)) or 0
                before += (mask & ((1 << offset) - 1)).bit_count()
            else:
                node: dict[str, int] = cache.get(self._key(level, index)) or {}
                before += sum(count for child, count in node.items() if int(child) < offset)
        return before

    def total(self, cache: RowCache) -> int:
        top = len(TREE_FANOUTS)
        root = cache.get(self._key(top, 0))
        if top == 1:
            return int(root or 0).bit_count()
        return sum((root or {}).values())

    def first(self, cache: RowCache) -> int | None:
        index = 0
        for level in range(len(TREE_FANOUTS), 0, -1):
            node = cache.get(self._key(level, index))
            if not node:
                return None
            lowest = (node & -node).bit_length() - 1 if level == 1 else min(int(child) for child in node)
            index = index * TREE_FANOUTS[level - 1] + lowest
        return index

    def places(self, cache: RowCache, level: int = 0, index: int = 0) -> Iterator[int]:
        """Every place with an entry, in order (a walk of the whole tree)."""
        level = level or len(TREE_FANOUTS)
        node = cache.get(self._key(level, index))
        if not node:
            return
        if level == 1:
            yield from (index * TREE_FANOUTS[0] + offset for offset in range(TREE_FANOUTS[0]) if node >> offset & 1)
            return
        for child in sorted(int(offset) for offset in node):
            yield from self.places(cache, level - 1, index * TREE_FANOUTS[level - 1] + child)


class JobLine:
    """The job queue: one row per waiting job, per-session lines, the taken set, two trees."""

    ENDS = "queue:ends"
    TAKEN = "queue:taken"

    def __init__(self) -> None:
        self.waiting = CountTree("waiting")
        self.idle = CountTree("idle")

    @staticmethod
    def _row_key(job_id: str) -> str:
        return f"queue:job:{job_id}"

    @staticmethod
    def _seq_key(seq: int) -> str:
        return f"queue:seq:{seq}"

    @staticmethod
    def _session_key(session_id: str) -> str:
        return f"queue:session:{session_id}"

    def taken(self, cache: RowCache) -> dict[str, str]:
        return dict(cache.get(self.TAKEN) or {})

    def row(self, cache: RowCache, job_id: str) -> JSONDict | None:
        row: JSONDict | None = cache.get(self._row_key(job_id))
        return row

    def _point(self, cache: RowCache, job_id: str, side: str, target: str | None) -> JSONDict:
        """Set a waiting job's ``prev`` or ``next`` (its session's line); returns its row."""
        row = self.row(cache, job_id)
        if row is None:
            raise StoreError(f"the queue's row of job {job_id} is out of step")
        row[side] = target
        cache.set(self._row_key(job_id), row)
        return row

    def _head_seq(self, cache: RowCache, session_id: str) -> int | None:
        line = cache.get(self._session_key(session_id))
        if not line:
            return None
        head = self.row(cache, line["head"])
        if head is None:
            raise StoreError(f"the queue's line of session {session_id} is out of step")
        return int(head["seq"])

    def _next_seq(self, cache: RowCache, front: bool) -> int:
        middle = CountTree.capacity() // 2
        ends = cache.get(self.ENDS) or {"front": middle - 1, "back": middle}
        seq = int(ends["front"] if front else ends["back"])
        if not 0 <= seq < CountTree.capacity():
            raise StoreError("the queue has run out of places; it starts afresh once it is empty")
        if front:
            ends["front"] = seq - 1
        else:
            ends["back"] = seq + 1
        cache.set(self.ENDS, ends)
        return seq

    def push(self, cache: RowCache, job_id: str, session_id: str, front: bool = False) -> None:
        if self.row(cache, job_id) is not None:
            return  # already waiting
        taken = self.taken(cache)
        if job_id in taken:
            self._untake(cache, taken, job_id)
        idle = session_id not in taken.values()
        seq = self._next_seq(cache, front)
        row: JSONDict = {"seq": seq, "session": session_id, "prev": None, "next": None}
        line = cache.get(self._session_key(session_id)) or {"head": None, "tail": None, "count": 0}
        if front:
            if line["head"] is not None:
                head = self._point(cache, line["head"], "prev", job_id)
                row["next"] = line["head"]
                if idle:
                    self.idle.add(cache, int(head["seq"]), -1)
            else:
                line["tail"] = job_id
            line["head"] = job_id
            if idle:
                self.idle.add(cache, seq, 1)
        else:
            if line["tail"] is not None:
                self._point(cache, line["tail"], "next", job_id)
                row["prev"] = line["tail"]
            else:
                line["head"] = job_id
                if idle:
                    self.idle.add(cache, seq, 1)
            line["tail"] = job_id
        line["count"] += 1
        cache.set(self._session_key(session_id), line)
        cache.set(self._row_key(job_id), row)
        cache.set(self._seq_key(seq), job_id)
        self.waiting.add(cache, seq, 1)

    def _unlink(self, cache: RowCache, job_id: str, taken: dict[str, str]) -> JSONDict | None:
        """Take a job out of the waiting rows; returns its row, or None when it was not waiting."""
        row = self.row(cache, job_id)
        if row is None:
            return None
        session_id = row["session"]
        line = cache.get(self._session_key(session_id))
        if line is None:
            raise StoreError(f"the queue's line of session {session_id} is out of step")
        idle = session_id not in taken.values()
        previous, following = row["prev"], row["next"]
        following_row = None
        if previous is not None:
            self._point(cache, previous, "next", following)
        else:
            line["head"] = following
        if following is not None:
            following_row = self._point(cache, following, "prev", previous)
        else:
            line["tail"] = previous
        if idle and previous is None:  # it was the session's first: the next one is now
            self.idle.add(cache, int(row["seq"]), -1)
            if following_row is not None:
                self.idle.add(cache, int(following_row["seq"]), 1)
        line["count"] -= 1
        if line["count"]:
            cache.set(self._session_key(session_id), line)
        else:
            cache.delete(self._session_key(session_id))
        cache.delete(self._row_key(job_id))
        cache.delete(self._seq_key(int(row["seq"])))
        if self.waiting.add(cache, int(row["seq"]), -1) == 0:
            cache.delete(self.ENDS)  # empty: places start from the middle again
        return row

    def _write_taken(self, cache: RowCache, taken: dict[str, str]) -> None:
        if taken:
            cache.set(self.TAKEN, taken)
        else:
            cache.delete(self.TAKEN)

    def take(self, cache: RowCache, job_id: str, session_id: str) -> None:
        """Mark a job taken by a render slot (it must not be waiting)."""
        self._take(cache, self.taken(cache), job_id, session_id)

    def _take(self, cache: RowCache, taken: dict[str, str], job_id: str, session_id: str) -> None:
        if session_id not in taken.values():
            head_seq = self._head_seq(cache, session_id)
            if head_seq is not None:
                self.idle.add(cache, head_seq, -1)
        taken[job_id] = session_id
        self._write_taken(cache, taken)

    def _untake(self, cache: RowCache, taken: dict[str, str], job_id: str) -> None:
        session_id = taken.pop(job_id)
        self._write_taken(cache, taken)
        if session_id not in taken.values():
            head_seq = self._head_seq(cache, session_id)
            if head_seq is not None:
                self.idle.add(cache, head_seq, 1)

    def remove(self, cache: RowCache, job_id: str) -> None:
        """The job leaves the queue: no longer waiting, no longer taken."""
        taken = self.taken(cache)
        self._unlink(cache, job_id, taken)
        if job_id in taken:
            self._untake(cache, taken, job_id)

    def pop_fair(self, cache: RowCache) -> str | None:
        taken = self.taken(cache)
        seq = self.idle.first(cache)
        if seq is not None:
            job_id: str | None = cache.get(self._seq_key(seq))
        else:
            # Every session with a job waiting has some taken: the few sessions in ``taken``.
            job_id = None
            best: tuple[int, int] | None = None
            for session_id, count in Counter(taken.values()).items():
                head_seq = self._head_seq(cache, session_id)
                if head_seq is not None and (best is None or (count, head_seq) < best):
                    best = (count, head_seq)
            if best is not None:
                job_id = cache.get(self._seq_key(best[1]))
        if job_id is None:
            if self.waiting.total(cache):
                raise StoreError("the queue's trees are out of step: jobs wait but none can be taken")
            return None
        row = self.row(cache, job_id)
        if row is None:
            raise StoreError(f"the queue's place of job {job_id} is out of step")
        # Taken first: the session's first job then simply leaves the idle tree, and the
        # unlinking below sees a busy session and leaves the idle tree alone.
        self._take(cache, taken, job_id, row["session"])
        self._unlink(cache, job_id, taken)
        return job_id

    def position(self, cache: RowCache, job_id: str) -> int | None:
        row = self.row(cache, job_id)
        if row is None:
            return None
        return self.waiting.count_before(cache, int(row["seq"])) + 1

    def length(self, cache: RowCache) -> int:
        return self.waiting.total(cache)

    def waiting_ids(self, cache: RowCache) -> list[str]:
        """Every waiting job, front first (a walk of the whole line: for recovery)."""
        return [job_id for job_id in (cache.get(self._seq_key(seq)) for seq in self.waiting.places(cache))
                if job_id is not None]
