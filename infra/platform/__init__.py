"""The services and the console run in the background on this machine beside the local stack: `make up`, `make down`,
`make status`."""
