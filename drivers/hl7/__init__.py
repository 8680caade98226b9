"""HL7 v2 ORU^R01 observation results over MLLP (monitors and gateways pushing vitals)."""
