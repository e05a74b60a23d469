"""safeguard: policy-as-code for FTC Safeguards Rule compliance on Microsoft 365 and Google Workspace."""

__version__ = "0.1.0"

__all__ = ["__version__"]
