"""Test support: live servers, throw-away databases and fuzz settings. No production module
imports this package (checks/import_graph_test.py checks it)."""
