"""The Fleetdeck version, shared by the control plane and the agent."""

__version__ = "0.1.0"
