"""The coding side: from probabilities and bytes to a .llmp file and back.

    container.py the .llmp container: prelude, codec parameters, payload, checksums
    segments.py  cutting input into independently coded segments
    rangecoder.py range coding of token streams (constriction)
    online.py    online models of the document (bias, match) mixed with the LLM
    profiles.py  coding profiles: everything the probabilities depend on besides the model
    workers.py   decoding segments in forked worker processes
    modelcoder.py coding segments under the model (what every model-driven codec and the
                 cluster's tasks share), and the interface a cluster pool offers
    zstdframe.py zstd frames with bounded output (the fallback and small blocks)
"""
