"""camops recorder agent: what runs on an NVR or a central recorder (R3-R5).

One implementation of the recording format for every reader: the segment names and the segment
list (:mod:`camops_recorder.segments`), the hash-chained day manifests
(:mod:`camops_recorder.chain`), retention (:mod:`camops_recorder.retention`) and the upload to the
WORM store (:mod:`camops_recorder.upload`). The platform (playback, export) and the ops library
(``camops audit``) import them from here. Standard library only, except the upload (boto3).
"""
