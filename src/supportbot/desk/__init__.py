"""The operator desk: tickets, queue, assignment, working hours, canned replies, CSAT."""
