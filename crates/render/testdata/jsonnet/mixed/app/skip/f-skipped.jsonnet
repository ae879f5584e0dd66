error 'excluded, never evaluated'
