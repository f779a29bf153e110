"""The staff side: sign-in, accounts, invitations, and the guards every staff view uses."""
