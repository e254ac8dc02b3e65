"""The mesh's forwarder: a plain XSUB/XPUB proxy between feeders and gateways."""
