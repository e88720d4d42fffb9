"""The domain core: the rules every value obeys and the typed commands of every write.

Every surface (REST v2, SCIM, /api/v1, ADMIN users, user identities), the importer and the
CLI hand their input to these, so a value is accepted or refused the same way wherever it
comes from and whichever database stores it.
"""
