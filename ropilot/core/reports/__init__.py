"""Reports: engine figures arranged as titled sections of rows, ready for any output format."""
