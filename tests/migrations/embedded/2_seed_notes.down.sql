DELETE FROM embedded_notes WHERE id IN (1, 2);
