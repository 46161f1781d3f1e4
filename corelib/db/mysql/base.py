"""Django's MySQL backend, with each connection holding a slot of corelib.dbpool.

ENGINE "corelib.db.mysql". The slot is taken before connecting and given back
when the connection closes, so a process never holds more than DB_POOL_SIZE
connections per alias, however many greenlets want one. A clean connection is
kept idle in the pool and reused by the next request, without its set-up
statements; the server's version data is read once per process.
"""

from django.db.backends.mysql.base import DatabaseWrapper as MySQLDatabaseWrapper
from django.utils.functional import cached_property
from pymysql.constants import SERVER_STATUS

from corelib.dbpool import pool_for

_server_data: dict = {}
_PLAIN = (str, int, float, bool, type(None))
# id -> (the object, its repr): Django passes the same converters table (a module constant) to every connect,
# and its repr was most of what a key cost. The object is kept so that its id is not reused by another.
_described: dict[int, tuple[object, str]] = {}


def _description(value: object) -> str:
    entry = _described.get(id(value))
    if entry is None or entry[0] is not value:
        entry = _described[id(value)] = (value, repr(value))
    return entry[1]


def connection_key(conn_params: dict) -> tuple:
    """What makes two connections interchangeable: server, account, database, options."""
    return tuple(
        sorted((key, value if isinstance(value, _PLAIN) else _description(value)) for key, value in conn_params.items())
    )


class DatabaseWrapper(MySQLDatabaseWrapper):
    _slot = None
    _key = None
    _reused = False

    def get_new_connection(self, conn_params):
        pool = pool_for(self.alias)
        slot = pool.acquire(self)
        try:
            key = connection_key(conn_params)
            connection = pool.take_idle(key)
            self._reused = connection is not None
            if connection is None:
                connection = super().get_new_connection(conn_params)
        except BaseException:
            slot()
            raise
        self._slot, self._key = slot, key
        return connection

    def init_connection_state(self):
        # A reused connection keeps its session settings (isolation level,
        # SQL_AUTO_IS_NULL, names and sql_mode from init_command).
        if not self._reused:
            super().init_connection_state()

    @cached_property
    def mysql_server_data(self):
        server = (self.settings_dict["HOST"], self.settings_dict["PORT"])
        if server not in _server_data:
            _server_data[server] = MySQLDatabaseWrapper.mysql_server_data.func(self)
        return _server_data[server]

    def _close(self):
        try:
            if self._reusable():
                pool_for(self.alias).give_back(self._key, self.connection)
                return None
            return super()._close()
        finally:
            self._release_slot()

    def _reusable(self) -> bool:
        """Only a connection in a clean state goes back: no transaction, no error, autocommit on."""
        raw = self.connection
        if raw is None or self._slot is None or self.in_atomic_block or self.errors_occurred:
            return False
        try:
            in_transaction = raw.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS
            return bool(raw.open and raw.get_autocommit() and not in_transaction)
        except Exception:
            return False

    def _release_slot(self) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            slot()
