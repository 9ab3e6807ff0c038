"""Paced load for bench.evidence_lag: an open loop (request n is due at start + n / rate,
whatever happened before it), spread over worker processes, each with one keep-alive
connection, and how well the client kept to that schedule.

Processes, not threads: a client sharing one GIL falls behind the schedule on two cores and
then measures itself. Each request's slip (sent - due) and response time are kept, so the
report can tell a client that could not keep up (slips with quick answers) from a server
that answered too slowly for the connections (slips with slow answers). Requests are bytes
on a socket: http.client cost twice the CPU a request. Against a trivial asyncio server on
the 2-core machine (load average 3.7), 16 processes kept 1,000, 2,000 and 4,000 req/s (0.999
of scheduled, p99 slip 1-7 ms) on 12 %, 21 % and 32 % of one core (124, 107, 81 µs a
request)."""

import multiprocessing
import re
import resource
import socket
import time
from dataclasses import dataclass

from bench.harness import percentile

CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
KEPT_SHARE = 0.97  # achieved / scheduled at or above this: the rate was delivered
KEPT_SLIP_S = 0.05  # a p99 send slip above this is pointed out


@dataclass(frozen=True)
class Paced:
    rate: float  # scheduled requests/s
    scheduled: int
    answered: int  # with any HTTP status: each has its evidence
    non_2xx: int
    unanswered: int  # connection failed: no response, no evidence owed
    elapsed_s: float  # from the first request due to the last answer
    slips_s: list[float]
    latencies_s: list[float]
    client_cpu_s: float  # user + system time of the client processes

    @property
    def achieved(self) -> float:
        return self.answered / self.elapsed_s if self.elapsed_s > 0 else 0.0


Job = tuple[int, str, list[str], float, int, int, float, int]
Done = tuple[int, int, int, float, list[float], list[float]]


def _worker(job: Job) -> Done:
    """Every `clients`-th request of the schedule, from `offset`, on one connection."""
    port, token, paths, start, total, clients, rate, offset = job
    requests = [f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {token}\r\n\r\n".encode() for path in paths]  # fmt: skip
    sock, buffer = socket.create_connection(("127.0.0.1", port), timeout=30), bytearray()
    answered = non_2xx = unanswered = 0
    slips: list[float] = []
    latencies: list[float] = []
    last = start
    for n in range(offset, total, clients):
        due = start + n / rate
        if (delay := due - time.time()) > 0:
            time.sleep(delay)
        sent = time.time()
        try:
            status = _exchange(sock, requests[n % len(requests)], buffer)
        except OSError:
            unanswered += 1
            sock.close()
            sock, buffer = socket.create_connection(("127.0.0.1", port), timeout=30), bytearray()
            continue
        last = time.time()
        answered += 1
        non_2xx += not 200 <= status < 300
        slips.append(sent - due)
        latencies.append(last - sent)
    sock.close()
    return answered, non_2xx, unanswered, last, slips, latencies


def _exchange(sock: socket.socket, request: bytes, buffer: bytearray) -> int:
    """One keep-alive request and its Content-Length framed response; its status. Bytes on
    a socket, not http.client, whose per-request cost on these cores would cap the rate."""
    sock.sendall(request)
    while (head_end := buffer.find(b"\r\n\r\n")) < 0:
        _receive(sock, buffer)
    length = CONTENT_LENGTH.search(bytes(buffer[:head_end]))
    if length is None:
        raise ConnectionError("a response without Content-Length")
    size = head_end + 4 + int(length.group(1))
    while len(buffer) < size:
        _receive(sock, buffer)
    status = int(buffer[9:12])
    del buffer[:size]
    return status


def _receive(sock: socket.socket, buffer: bytearray) -> None:
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("the server closed the connection")
    buffer += chunk


def paced_load(
    port: int, token: str, paths: list[str], rate: float, seconds: int, clients: int
) -> Paced:
    """`rate` requests/s for `seconds`, cycling over `paths`, from `clients` processes."""
    total = int(rate * seconds)
    start = time.time() + 1.0  # every process forked and connected before the first is due
    jobs = [(port, token, paths, start, total, clients, rate, w) for w in range(clients)]
    before = _children_cpu()
    pool = multiprocessing.get_context("fork").Pool(clients)
    done = pool.map(_worker, jobs, chunksize=1)
    pool.close()
    pool.join()  # reaped: their CPU time is counted
    return Paced(
        rate=rate,
        scheduled=total,
        answered=sum(d[0] for d in done),
        non_2xx=sum(d[1] for d in done),
        unanswered=sum(d[2] for d in done),
        elapsed_s=max(d[3] for d in done) - start,
        slips_s=[s for d in done for s in d[4]],
        latencies_s=[s for d in done for s in d[5]],
        client_cpu_s=_children_cpu() - before,
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pacing_report(paced: Paced, clients: int) -> list[str]:
    """What the client delivered against the schedule, and whether that can be trusted."""
    if not paced.answered:
        return ["paced    nothing was answered: the client did NOT keep to the schedule"]
    slip50, slip99 = percentile(paced.slips_s, 0.5), percentile(paced.slips_s, 0.99)
    lat50, lat99 = percentile(paced.latencies_s, 0.5), percentile(paced.latencies_s, 0.99)
    share = paced.achieved / paced.rate
    lines = [
        f"paced    scheduled {paced.rate:,.0f} req/s x {paced.scheduled / paced.rate:.0f} s = "
        f"{paced.scheduled:,} from {clients} client processes; answered {paced.answered:,} "
        f"(non-2xx {paced.non_2xx}, unanswered {paced.unanswered})",
        f"paced    achieved {paced.achieved:,.0f} req/s ({share:.3f} of scheduled); send slip "
        f"p50 {slip50 * 1000:.1f} ms p99 {slip99 * 1000:.1f} ms; "
        f"response p50 {lat50 * 1000:.1f} ms p99 {lat99 * 1000:.1f} ms",
    ]
    cpu = paced.client_cpu_s / paced.elapsed_s
    lines.append(f"paced    client CPU {paced.client_cpu_s:.1f} s in {paced.elapsed_s:.1f} s "
                 f"({cpu:.0%} of one core, {paced.client_cpu_s / paced.answered * 1e6:.0f} µs "
                 "a request)")  # fmt: skip
    if share >= KEPT_SHARE and slip99 <= KEPT_SLIP_S:
        return [*lines, "paced    the client kept the rate and the schedule"]
    if share >= KEPT_SHARE:  # a lag is taken from its event's own time: a late send is fine
        return [*lines, "paced    the client kept the rate; sends slipped behind slow answers"]
    interval = clients / paced.rate  # each connection's time between its requests
    who = (
        f"the server's p99 answer ({lat99 * 1000:.1f} ms) exceeds each connection's interval "
        f"({interval * 1000:.1f} ms): the server is saturated, or more clients are needed"
        if lat99 > interval
        else "the answers were quick: the client processes could not keep up (CPU)"
    )
    return [*lines, f"paced    the client did NOT keep the rate: {who}"]
