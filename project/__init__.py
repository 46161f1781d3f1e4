"""The Django project package.

PyMySQL is installed as MySQLdb here, before Django's MySQL backend is imported:
it is pure Python, so gevent can switch greenlets while a query waits on the socket.
"""

import pymysql

pymysql.install_as_MySQLdb()
