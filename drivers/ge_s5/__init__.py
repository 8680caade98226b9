"""GE Datex-Ohmeda S/5 computer interface (AS/3, CS/3, S/5, CARESCAPE B450/B650/B850)."""
