"""The cord blood bank's pure domain: unit lifecycle, ISBT 128 DINs, QC release criteria, roles.

No I/O here: the store (`cordmatch.store`) and the services (`cordmatch.services.bank`) use it.
"""
