"""Who a bearer token says its holder is: issuers' keys, token verification, claim matching.

Between api/ (which reads the header and answers) and the services (which decide what a caller
may do): nothing here touches the database or speaks HTTP to clients.
"""
