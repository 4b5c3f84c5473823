console.log('[pwlu] native build placeholder');
