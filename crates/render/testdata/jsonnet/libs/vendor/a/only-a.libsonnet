{ onlyA: true }
