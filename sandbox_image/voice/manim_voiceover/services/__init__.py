"""Speech services by upstream's names; every one speaks with the appliance's voice."""
