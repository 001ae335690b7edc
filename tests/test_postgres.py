"""What the PostgreSQL store promises beyond the contract: hosts writing at once, versioned schema, outages."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import API, codes, make_account
from octeth_tracking import SQLiteStore, create_app, open_store
from services import pg_schema
from test_storage_contract import new_event


@pytest.fixture
def url():
    yield from pg_schema()


@pytest.fixture
def hosts(url):
    """Three stores on one database: three app hosts, each with its own pool."""
    from octeth_tracking.storage.postgres import PostgresStore

    stores = [PostgresStore(url, max_size=3) for _ in range(3)]
    yield stores
    for store in stores:
        store.close()


def run_threads(count, work):
    with ThreadPoolExecutor(count) as pool:
        return [result for results in pool.map(work, range(count)) for result in results]


@pytest.mark.parametrize("batch", [pytest.param(1, id="one-per-call"), pytest.param(5, id="batches-of-5")])
def test_concurrent_duplicates_from_many_hosts_are_stored_once(hosts, batch):
    list_id = hosts[0].create_list(hosts[0].create_user("u"), "l")
    uuids = [str(uuid.uuid4()) for _ in range(20)]

    def send(thread):
        mine = random.Random(thread).sample(uuids, len(uuids))  # each thread its own order
        store = hosts[thread % len(hosts)]
        receipts = []
        for start in range(0, len(mine), batch):
            receipts += store.record([new_event(list_id, external_id=f"v-{thread}", the_uuid=u)
                                      for u in mine[start:start + batch]])
        return receipts

    receipts = run_threads(12, send)
    assert hosts[1].count_events(list_id) == 20
    for the_uuid in uuids:
        answers = [r for r in receipts if r.uuid == the_uuid]
        assert len(answers) == 12 and sum(not r.duplicate for r in answers) == 1
        assert len({r.external_id for r in answers}) == 1  # every repeat got the first answer


def test_concurrent_identify_of_one_visitor_links_once(hosts):
    list_id = hosts[0].create_list(hosts[0].create_user("u"), "l")

    def send(thread):
        return hosts[thread % len(hosts)].record([new_event(list_id, "click", external_id="v", email="a@example.com")])

    receipts = run_threads(12, send)
    assert sum(r.identify_event_sent for r in receipts) == 1
    assert hosts[2].count_events(list_id) == 12 + 1  # the clicks and one identify event
    assert hosts[0].subscriber_email(list_id, "v") == "a@example.com"


def test_concurrent_identify_with_different_emails_stays_consistent(hosts):
    list_id = hosts[0].create_list(hosts[0].create_user("u"), "l")
    emails = [f"{name}@example.com" for name in "abc"]

    def send(thread):
        email = emails[thread % 3]
        return hosts[thread % len(hosts)].record([new_event(list_id, "click", external_id="v", email=email)])

    receipts = run_threads(12, send)
    # Every receipt that said "identify sent" has its identify event, and no other does.
    assert hosts[0].count_events(list_id) == 12 + sum(r.identify_event_sent for r in receipts)
    assert hosts[0].subscriber_email(list_id, "v") in emails


def test_schema_is_versioned_and_hosts_starting_at_once_share_it(url):
    import psycopg

    from octeth_tracking.storage.postgres import PostgresStore
    from octeth_tracking.storage.postgres_schema import MIGRATIONS

    started = run_threads(4, lambda _: [PostgresStore(url, max_size=1)])  # four hosts migrate one empty schema
    user = started[0].create_user("u")
    key = started[1].create_api_key(user)
    for store in started:
        store.close()
    again = open_store(url)
    assert type(again).__name__ == "PostgresStore" and again.user_for_api_key(key) == user
    again.close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT version FROM octeth_schema_version").fetchall() == [(len(MIGRATIONS),)]


def test_only_digests_of_secrets_are_at_rest(url):
    import psycopg

    store = open_store(url)
    user = store.create_user("u")
    key, session_id = store.create_api_key(user), store.create_session(user, 60)
    store.close()
    with psycopg.connect(url) as conn:
        tables = [t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        dump = "".join(str(conn.execute(f"SELECT * FROM {table}").fetchall()) for table in tables)
    assert "api_keys" in tables and key not in dump and session_id not in dump


@pytest.mark.parametrize("db, kind", [
    pytest.param("events.db", SQLiteStore, id="path"),
    pytest.param("sqlite:///{tmp}/events.db", SQLiteStore, id="sqlite-url"),
])
def test_open_store_chooses_sqlite_for_paths(tmp_path, monkeypatch, db, kind):
    monkeypatch.chdir(tmp_path)
    store = open_store(db.format(tmp=tmp_path))
    assert isinstance(store, kind) and store.ping()
    store.close()


class Proxy:
    """A TCP relay from a loopback port to PostgreSQL, which the test cuts to make the database vanish."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client = self.listener.accept()[0]
            except OSError:
                return  # cut
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restore(self) -> None:
        """Listen again on the same port: the database is back."""
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self.accept, daemon=True).start()

    def cut(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # stops listening and wakes accept() (close alone does not)
        except OSError:
            pass
        self.listener.close()
        self.drop()

    def drop(self) -> None:
        """Break every open connection (as a database restart does); new ones still get through."""
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


@pytest.fixture
def proxied(url):
    """A store that reaches PostgreSQL through a :class:`Proxy`, and the proxy."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from octeth_tracking.storage.postgres import PostgresStore

    params = conninfo_to_dict(url)
    proxy = Proxy(str(params.get("host", "127.0.0.1")), int(params.get("port", 5432)))
    store = PostgresStore(make_conninfo(url, host="127.0.0.1", port=proxy.port), max_size=2, timeout=1)
    yield store, proxy
    proxy.cut()
    store.close()


def test_connections_broken_under_the_pool_cost_no_request(proxied, caplog):
    store, proxy = proxied
    account = make_account(store)
    api = API(create_app(store=store))
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
    assert api.event(body).status_code == 200
    proxy.drop()
    assert api.event(body).status_code == 200  # tried again on a fresh connection
    assert store.count_events(account.list_id) == 2
    assert "connection lost" in caplog.text


def test_database_gone_gives_503_and_health_says_so(proxied):
    store, proxy = proxied
    account = make_account(store)
    api = API(create_app(store=store))
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
    assert api.event(body).status_code == 200
    assert api.client.get("/api/v1/health").get_json() == {"status": "ok", "store": "ok", "rate_limiter": "memory"}
    proxy.cut()
    health = api.client.get("/api/v1/health")
    assert (health.status_code, health.get_json()["store"]) == (503, "unavailable")
    failed = API(create_app(store=store, authenticator=AllowAll()))
    response = failed.event(body)
    assert (response.status_code, codes(response)) == (503, [26])


def test_health_is_ok_at_the_first_probe_after_a_restart_broke_the_pools_connections(proxied):
    store, proxy = proxied
    api = API(create_app(store=store))
    with store.pool.connection(), store.pool.connection():  # the pool full, as after traffic
        pass
    proxy.drop()  # the server restarted: every pooled connection is dead, new ones get through
    assert [api.client.get("/api/v1/health").status_code for _ in range(3)] == [200, 200, 200]


def test_the_store_is_back_at_the_first_request_after_a_long_outage(proxied):
    # psycopg_pool retries a lost server with a doubling delay: after 8 s its next try
    # would be some 7 s away, and requests meanwhile would wait out their timeout for a 503.
    store, proxy = proxied
    account = make_account(store)
    api = API(create_app(store=store))
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
    proxy.cut()
    assert api.event(body).status_code == 503
    time.sleep(8)
    proxy.restore()
    time.sleep(store.timeout * 1.5)  # any attempt begun in the outage has given up (or connected) by now
    assert api.event(body).status_code == 200
    assert api.client.get("/api/v1/health").status_code == 200


def test_a_write_waiting_on_a_lock_past_the_timeout_gets_503_and_stores_nothing(proxied, url):
    import psycopg

    store, proxy = proxied
    account = make_account(store)
    api = API(create_app(store=store))
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
    with psycopg.connect(url) as holder:  # another client holds a lock that every insert waits for
        holder.execute("SET idle_in_transaction_session_timeout = '20s'")  # were the wait unbounded: a failure, not a hang
        holder.execute("LOCK TABLE events IN SHARE MODE")
        response = api.event(body)
        assert (response.status_code, codes(response)) == (503, [26])
    assert api.event(body).status_code == 200  # the lock released
    assert store.count_events(account.list_id) == 1


def test_a_read_only_database_gives_503_not_500(proxied):
    store, proxy = proxied
    account = make_account(store)
    api = API(create_app(store=store))
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
    assert api.event(body).status_code == 200  # the pool's connections exist, and the key is cached
    with store.pool.connection() as first, store.pool.connection() as second:
        for conn in (first, second):  # as after a failover to a standby
            conn.execute("SET default_transaction_read_only = on")
    assert api.client.get("/api/v1/health").status_code == 503  # no longer writable: out of the balancer
    response = api.event(body)
    assert (response.status_code, codes(response)) == (503, [26])
    assert store.count_events(account.list_id) == 1
    # The read-only connections were closed, not kept: the next ones are writable (here, the same server).
    assert api.event(body).status_code == 200 and api.client.get("/api/v1/health").status_code == 200


def test_a_schema_it_may_not_use_is_one_line_from_the_command_line(capsys):
    from octeth_tracking.cli import main
    from services import PG_URL, need

    need("postgresql")
    missing = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3Dno_such_schema_{uuid.uuid4().hex}"
    assert main(["create-user", "ann", "--db", missing]) == 1
    error = capsys.readouterr().err
    assert error.startswith("octeth-tracking: cannot use PostgreSQL: no schema has been selected") and error.count("\n") == 1


class AllowAll:
    """Lets every request past authentication, so the test reaches the store's write."""

    def authenticate(self, api_key, session_id):
        return 1

    def can_use_list(self, user_id, list_id):
        return True


def test_registry_is_shared_by_hosts(hosts):
    # Each host remembers what it has registered; what another host adds must still show.
    list_id = hosts[0].create_list(hosts[0].create_user("u"), "l")
    hosts[0].record([new_event(list_id, properties={"url": 1})])
    hosts[1].record([new_event(list_id, properties={"url": 1, "ref": 2})])
    hosts[0].record([new_event(list_id, properties={"url": 1})])
    assert hosts[0].properties(list_id) == hosts[2].properties(list_id) == {"pageView": ["ref", "url"]}


_NAME_CHARACTERS = st.sampled_from("\x00\x01\x1f\n~\"\\a\u00e9\u20ac\u4e2d\U0001f4a5\U0010ffff")


@given(st.text(_NAME_CHARACTERS, max_size=255) | st.text(max_size=255)
       # long, holding U+0000: their ASCII forms fall on both sides of _ASCII_FORM_MAX
       | st.text(_NAME_CHARACTERS | st.characters(codec="utf-8"), min_size=100, max_size=254).map(lambda text: "\x00" + text))
def test_every_name_has_a_stored_form_without_nul_that_earlier_versions_read_too(text):
    from octeth_tracking.storage.postgres_schema import from_db as _from_db, to_db as _to_db

    stored = _to_db(text)
    assert "\x00" not in stored and _from_db(stored) == text
    if "\x00" not in text and not text.startswith("\x01"):
        assert stored == text
        return
    assert json.loads(stored[1:]) == text  # as earlier versions read it
    ascii_form = json.dumps(text)
    if len(ascii_form) <= 1300:
        assert stored == "\x01" + ascii_form  # as earlier versions wrote it
    # 4 bytes at most for a character outside the BMP (12 in the ASCII form), 6 for a control character.
    assert len(stored.encode()) <= min(1 + len(ascii_form), max(1301, 3 + sum(6 if ord(c) < 32 else 4 for c in text)))


def test_a_long_name_an_earlier_version_stored_in_json_form_is_read_as_one(hosts):
    """Names JSON-encoded by earlier versions past today's limit were stored when they compressed."""
    from octeth_tracking.storage.postgres_schema import to_db as _to_db

    store = hosts[0]
    list_id = store.create_list(store.create_user("u"), "l")
    name = "\x00" + "\U0001f4a5" * 200
    earlier = "\x01" + json.dumps(name)
    assert len(earlier) > 1301 and _to_db(name) != earlier
    with store.pool.connection() as conn:
        conn.execute("INSERT INTO event_types VALUES (%s, %s)", (list_id, earlier))
        conn.execute("INSERT INTO event_properties VALUES (%s, %s, %s)", (list_id, earlier, earlier))
    store.record([new_event(list_id, name, properties={name: 1, "b": 2})])
    assert store.properties(list_id) == {name: sorted([name, "b"])}


def test_names_past_an_index_entry_under_raised_limits_get_503_and_store_nothing(hosts):
    # What the README says of raising the name limits on PostgreSQL: the default limits fit.
    store = hosts[0]
    account = make_account(store)
    api = API(create_app(store=store, max_event_length=400, max_property_name_length=400))
    rng = random.Random(7)
    astral = ["".join(chr(rng.randrange(0x10000, 0x10FFFF)) for _ in range(length)) for length in (400, 400, 255, 255)]
    body = {"APIKey": account.api_key, "ListID": account.list_id}
    response = api.event({**body, "Event": astral[0], "Properties": {astral[1]: 1}})
    assert (response.status_code, codes(response)) == (503, [26])
    assert store.count_events(account.list_id) == 0
    assert api.event({**body, "Event": astral[2], "Properties": {astral[3]: 1}}).status_code == 200
    assert store.properties(account.list_id) == {astral[2]: [astral[3]]}


@pytest.mark.parametrize("visitor", [
    pytest.param("\x00" + "\u00e9" * 254, id="latin"),  # ASCII form 1,533 bytes: earlier versions stored it
    pytest.param("\x00" + "\U0001f4a5" * 254, id="emoji"),  # 3,056 bytes, stored as it compresses
])
def test_a_visitor_an_earlier_version_linked_stays_linked(hosts, visitor):
    store = hosts[0]
    list_id = store.create_list(store.create_user("u"), "l")
    earlier = "\x01" + json.dumps(visitor)
    with store.pool.connection() as conn:  # as an earlier version wrote the link
        (subscriber,) = conn.execute("INSERT INTO subscribers (list_id, email) VALUES (%s, 'a@example.com')"
                                     " RETURNING id", (list_id,)).fetchone()
        conn.execute("INSERT INTO visitor_links (list_id, external_id, subscriber_id) VALUES (%s, %s, %s)",
                     (list_id, earlier, subscriber))
    assert store.subscriber_email(list_id, visitor) == "a@example.com"
    (again,) = store.record([new_event(list_id, "purchase", external_id=visitor, email="a@example.com")])
    assert not again.identify_event_sent  # the same link: nothing to send
    (moved,) = store.record([new_event(list_id, "purchase", external_id=visitor, email="b@example.com")])
    assert moved.identify_event_sent and store.subscriber_email(list_id, visitor) == "b@example.com"
    with store.pool.connection() as conn:
        links = conn.execute("SELECT external_id FROM visitor_links WHERE list_id = %s", (list_id,)).fetchall()
    assert links == [(earlier,)]  # moved in place, never a second row
