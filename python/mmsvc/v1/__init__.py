"""Generated gRPC stubs of the mmsvc v1 API (``protos/mmsvc/v1``).

Regenerate with ``python scripts/gen_protos.py``; do not edit by hand.
"""
