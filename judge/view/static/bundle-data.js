// Served by `judge view`: no data here; the page asks the server. `judge view --bundle DIR`
// writes this file with the runs' data, for a copy that opens without a server.
