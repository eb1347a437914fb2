DELETE FROM quickstart_books WHERE title = 'The Dispossessed';
