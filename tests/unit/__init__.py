"""Tests of pure logic: no database, no server."""
