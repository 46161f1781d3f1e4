"""Django's MySQL backend, with each connection holding a slot of corelib.dbpool.

ENGINE "corelib.db.mysql". The slot is taken before connecting and given back
when the connection closes, so a process never holds more than DB_POOL_SIZE
connections per alias, however many greenlets want one.
"""

from django.db.backends.mysql.base import DatabaseWrapper as MySQLDatabaseWrapper

from corelib.dbpool import pool_for


class DatabaseWrapper(MySQLDatabaseWrapper):
    _slot = None

    def get_new_connection(self, conn_params):
        slot = pool_for(self.alias).acquire(self)
        try:
            connection = super().get_new_connection(conn_params)
        except BaseException:
            slot()
            raise
        self._slot = slot
        return connection

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_slot()

    def _release_slot(self) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            slot()
