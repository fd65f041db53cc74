-- Clients of the latest snapshot, for the client filter.
SELECT client_id, name
FROM clients
ORDER BY client_id;
