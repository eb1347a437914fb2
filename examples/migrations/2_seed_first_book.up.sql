-- Seed data in plain SQL that runs unchanged on SQLite, PostgreSQL and MySQL/MariaDB.
INSERT INTO quickstart_books (title, author, year, rating)
VALUES ('The Dispossessed', 'Ursula K. Le Guin', 1974, 4.6);
