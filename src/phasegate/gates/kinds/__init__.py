"""One module per gate kind: each judges an Observation for a GateSpec into a GateResult.

`phasegate.gates.evaluate.EVALUATORS` maps every GateKind to its module's function.
"""
