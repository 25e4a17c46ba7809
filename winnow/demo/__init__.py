"""The bundled demo: three fictional news sites served on loopback, crawled end to end."""
