"""Interfaces to hospital systems: HL7 v2 results and alarms out (IHE PCD-01/PCD-04) with
a persistent outbox, ADT admissions in, and the read-only FHIR R4 resources. See
docs/interfaces.md."""
