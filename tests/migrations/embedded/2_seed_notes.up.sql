-- The semicolon and the doubled quote inside the strings must not split statements.
INSERT INTO embedded_notes (id, body) VALUES (1, 'first; note');
INSERT INTO embedded_notes (id, body) VALUES (2, 'it''s the second');
