"""The live flow: the bus, device runners, the rules feed, the bed picture, the store writer."""
