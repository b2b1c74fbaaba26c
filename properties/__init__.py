"""The autograd-props property suite: strategies, oracles, and one test module per property family."""
