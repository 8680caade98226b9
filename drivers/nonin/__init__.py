"""Nonin pulse oximeters (OEM III, 9560 Onyx II, 3150 WristOx2): binary data formats #2, #7, #8."""
