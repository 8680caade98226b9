"""Philips IntelliVue MP/MX series over the MIB/RS232 Data Export interface."""
