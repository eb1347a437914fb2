DROP TABLE embedded_notes;
