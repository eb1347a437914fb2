-- Portable across SQLite, PostgreSQL and MariaDB.
CREATE TABLE embedded_notes (
    id INTEGER PRIMARY KEY,
    body VARCHAR(200) NOT NULL
);
