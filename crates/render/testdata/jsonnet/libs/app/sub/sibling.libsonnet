{ value: 'next to nested' }
