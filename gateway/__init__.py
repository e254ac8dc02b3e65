"""The gateway: subscribes to the mesh, keeps the rate book, prices the directions, serves HTTP."""
